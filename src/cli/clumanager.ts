#!/usr/bin/env node
import { main } from "./clumanager-main.js";

const code = await main(process.argv.slice(2));
// The daemon leaves timers and sockets closed behind it; an explicit exit still guards against a
// stray handle keeping a stopped member's process alive.
process.exit(code);
