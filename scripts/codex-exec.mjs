// The arguments that run the real Codex CLI against a loopback mock Responses server: a
// `mock` model provider at that base URL (Responses wire API, key from $MOCK_API_KEY), no
// approvals, no sandbox, `--json` output. Used to record fixtures and by the Codex benchmarks.

/** The model name the mock server is asked for. */
export const MOCK_MODEL = 'mock-model';

/** `codex exec` arguments for a run in `work` against the mock server at `mockBaseUrl`, then `rest`. */
export function codexExecArgs(mockBaseUrl, work, rest) {
  const provider = `model_providers.mock={ name = "mock", base_url = "${mockBaseUrl}", wire_api = "responses", env_key = "MOCK_API_KEY" }`;
  return [
    'exec',
    '--json',
    '--skip-git-repo-check',
    '--cd',
    work,
    '--sandbox',
    'danger-full-access',
    '-c',
    'approval_policy="never"',
    '-c',
    provider,
    '-c',
    'model_provider="mock"',
    '--model',
    MOCK_MODEL,
    ...rest,
  ];
}
