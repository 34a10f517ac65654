/**
 * Choosing a model client from settings and the environment: which API (Responses or Chat
 * Completions), which server (`OPENAI_BASE_URL` or a known provider), which key
 * (`CODEX_API_KEY`, `OPENAI_API_KEY`), as Codex's CLI does for its `openai` provider.
 */
import { openaiChatClient } from './openai-chat.js';
import { DEFAULT_OPENAI_BASE_URL, openaiResponsesClient, type OpenAIClientOptions, type OpenAIModelClient } from './openai-responses.js';

/** The API a client speaks: the Responses API (`/responses`) or Chat Completions (`/chat/completions`). */
export type WireApi = 'responses' | 'chat';

/** A known model provider: where it listens, which API it speaks, where its key comes from. */
export interface ModelProvider {
  /** Base URL, up to and including `/v1`. */
  readonly baseUrl: string;
  readonly wireApi: WireApi;
  /** Environment variables holding the key, in order of preference (none: the server needs no key). */
  readonly envKeys: readonly string[];
  /** Read `OPENAI_BASE_URL` from the environment (only the `openai` provider does). */
  readonly envBaseUrl?: boolean;
}

/**
 * Providers known by name (`model_provider`): `openai` (OpenAI's API, or `OPENAI_BASE_URL`;
 * key from `CODEX_API_KEY` or `OPENAI_API_KEY`), `ollama` (`http://localhost:11434/v1`, Chat
 * Completions, no key) and `lmstudio` (`http://localhost:1234/v1`, Chat Completions, no key).
 */
export const MODEL_PROVIDERS: Readonly<Record<string, ModelProvider>> = {
  openai: { baseUrl: DEFAULT_OPENAI_BASE_URL, wireApi: 'responses', envKeys: ['CODEX_API_KEY', 'OPENAI_API_KEY'], envBaseUrl: true },
  ollama: { baseUrl: 'http://localhost:11434/v1', wireApi: 'chat', envKeys: [] },
  lmstudio: { baseUrl: 'http://localhost:1234/v1', wireApi: 'chat', envKeys: [] },
};

/** The model asked for when neither the conversation nor the settings name one (OpenAI's API only). */
export const DEFAULT_OPENAI_MODEL = 'gpt-5';

/** Settings of a model client. Anything not set comes from the provider and the environment. */
export interface ModelConfig extends Omit<OpenAIClientOptions, 'baseURL' | 'apiKey' | 'model'> {
  /** A provider of `MODEL_PROVIDERS` (default `openai`). */
  readonly provider?: string;
  /** The API to speak. Default: the provider's (`responses` for `openai`). */
  readonly wireApi?: WireApi;
  /** Base URL, up to and including `/v1`. Default: `OPENAI_BASE_URL` (for `openai`), else the provider's. */
  readonly baseUrl?: string;
  /**
   * API key. Default: `CODEX_API_KEY`, else `OPENAI_API_KEY` (for `openai`); none for the
   * others. `null`: send no key, whatever the environment holds.
   */
  readonly apiKey?: string | null;
  /**
   * Model for requests whose conversation names none (its model is `local`). Default
   * `DEFAULT_OPENAI_MODEL` for OpenAI's own API; none elsewhere (the conversation's model is sent).
   */
  readonly model?: string;
}

/** An environment (e.g. `process.env`). */
export type Env = Readonly<Record<string, string | undefined>>;

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== '' ? value.trim() : undefined;
}

/** The client options `config` and `env` resolve to (see `ModelConfig` for the defaults). @throws {Error} for an unknown provider. */
export function resolveModelConfig(config: ModelConfig = {}, env: Env = process.env): OpenAIClientOptions & { readonly wireApi: WireApi; readonly baseURL: string } {
  const { provider: name = 'openai', wireApi, baseUrl, apiKey, model, ...rest } = config;
  const provider = MODEL_PROVIDERS[name];
  if (!provider) throw new Error(`unknown model provider ${JSON.stringify(name)}: expected ${Object.keys(MODEL_PROVIDERS).join(', ')}`);
  const baseURL = nonEmpty(baseUrl) ?? (provider.envBaseUrl ? nonEmpty(env.OPENAI_BASE_URL) : undefined) ?? provider.baseUrl;
  let key = apiKey === null ? undefined : nonEmpty(apiKey);
  if (apiKey !== null) for (const variable of provider.envKeys) key ??= nonEmpty(env[variable]);
  const fallbackModel = nonEmpty(model) ?? (name === 'openai' && baseURL.replace(/\/+$/, '') === DEFAULT_OPENAI_BASE_URL ? DEFAULT_OPENAI_MODEL : undefined);
  return {
    ...rest,
    wireApi: wireApi ?? provider.wireApi,
    baseURL,
    ...(key !== undefined ? { apiKey: key } : {}),
    ...(fallbackModel !== undefined ? { model: fallbackModel } : {}),
  };
}

/**
 * A model client for `config`, completed from `env`: `openaiResponsesClient` for
 * `wireApi: 'responses'` (the default), `openaiChatClient` for `'chat'`. The base URL is
 * `config.baseUrl`, else `OPENAI_BASE_URL`, else OpenAI's API; the key is `config.apiKey`, else
 * `CODEX_API_KEY`, else `OPENAI_API_KEY` (no key: no `Authorization` header, as Ollama, vLLM
 * and LM Studio accept).
 * @example
 * const client = modelClientFromConfig({ wireApi: 'chat', baseUrl: 'http://localhost:11434/v1' });
 * const agent = modelAgent({ client });
 * @throws {Error} for an unknown `provider`.
 */
export function modelClientFromConfig(config: ModelConfig = {}, env: Env = process.env): OpenAIModelClient {
  const { wireApi, ...options } = resolveModelConfig(config, env);
  return wireApi === 'chat' ? openaiChatClient(options) : openaiResponsesClient(options);
}
