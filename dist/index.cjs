// The action's entry (action.yml main and post): the bundle does the work.
try { require("node:module").enableCompileCache?.(); } catch {}
require("./prepull.cjs").runAction();
