/**
 * Turn input as callers give it: text, or parts (text and local images), as the Codex SDK's
 * `Input`; normalised to `UserInputItem`s at the boundary.
 */
import * as z from 'zod/mini';
import { InvalidOpError } from '../errors.js';
import { UserInputItemSchema, type UserInputItem } from '../protocol/items.js';
import { fast, toIssues } from '../protocol/validate.js';

/** Input to a turn: text, or parts (text and local images), as the Codex SDK's `Input`. */
export type Input = string | readonly UserInputItem[];

const InputSchema = z.array(UserInputItemSchema).check(z.minLength(1));

/**
 * Normalise `input` to parts.
 * @throws {InvalidOpError} when it is empty or malformed.
 */
export function toInputItems(input: Input): UserInputItem[] {
  if (typeof input === 'string') return [{ type: 'text', text: input }];
  const result = fast(InputSchema).safeParse(input);
  if (result.success) return result.data;
  throw new InvalidOpError(toIssues(result.error.issues, input, ['input']), 'input');
}
