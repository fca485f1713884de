#!/usr/bin/env node
// clumanager is not built yet: it arrives with a later issue. Until then it says so and exits 69
// (EX_UNAVAILABLE) instead of pretending to work.
import { EXIT } from "./exit-codes.js";

process.stderr.write(
  "clumanager: not available in this version of clumanager yet; only cludiskutil is built\n",
);
process.exitCode = EXIT.unavailable;
