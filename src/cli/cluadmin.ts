#!/usr/bin/env node
import { main } from "./cluadmin-main.js";

process.exitCode = await main(process.argv.slice(2));
