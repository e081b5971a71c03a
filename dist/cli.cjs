#!/usr/bin/env node
// The prepull command line: the bundle does the work.
try { require("node:module").enableCompileCache?.(); } catch {}
require("./prepull.cjs").runCli();
