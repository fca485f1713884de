#!/usr/bin/env node
// The member daemon is not built yet: it arrives with a later issue. Until then it says so and exits 69
// (EX_UNAVAILABLE) instead of pretending to work.
import { EXIT } from "./exit-codes.js";

process.stderr.write(
  "clumanager: the member daemon is not in this version yet (cludiskutil, clustonith and cluadmin are)\n",
);
process.exitCode = EXIT.unavailable;
