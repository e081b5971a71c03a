import { defineConfig } from "vitest/config";

// `npm run bench`: not part of `npm test`; needs root (it starts its own engine and registries).
export default defineConfig({
  test: {
    include: ["bench/**/*.bench.ts"],
    globalSetup: ["test/world/global-setup.ts"],
    testTimeout: 1_800_000,
    hookTimeout: 900_000,
    fileParallelism: false,
  },
});
