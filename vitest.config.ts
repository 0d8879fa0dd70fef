import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Store contract tests share one Redis and one PostgreSQL; files run in parallel
    // but each test uses its own key prefix, so they never see each other's data.
    pool: "forks",
  },
});
