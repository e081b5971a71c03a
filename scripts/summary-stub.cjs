// @actions/core's job summary writer, left out of the bundle: prepull appends the step's summary
// itself (src/report/filecommand.ts writeStepSummary). Should anything reach for it, it says why
// it is not there instead of failing obscurely.
const missing = () => {
  throw new Error("@actions/core's summary is not bundled in prepull: the summary is written by writeStepSummary");
};
module.exports = {
  get summary() {
    return missing();
  },
  get markdownSummary() {
    return missing();
  },
  SUMMARY_ENV_VAR: "GITHUB_STEP_SUMMARY",
  SUMMARY_DOCS_URL: "https://docs.github.com/actions/using-workflows/workflow-commands-for-github-actions#adding-a-job-summary",
};
