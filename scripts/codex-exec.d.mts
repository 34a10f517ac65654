/** The model name the mock server is asked for. */
export declare const MOCK_MODEL: string;
/** `codex exec` arguments for a run in `work` against the mock server at `mockBaseUrl`, then `rest`. */
export declare function codexExecArgs(mockBaseUrl: string, work: string, rest: readonly string[]): string[];
