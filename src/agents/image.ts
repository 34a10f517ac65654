/**
 * Local images of user input (`local_image` items) as `data:` URLs, the form both OpenAI's
 * Responses API and the Agents SDK accept for image input.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';

const IMAGE_TYPES: Readonly<Record<string, string>> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.bmp': 'image/bmp',
  '.svg': 'image/svg+xml',
};

/** The MIME type of an image file, from its extension (`application/octet-stream` when unknown). */
export function imageMimeType(path: string): string {
  return IMAGE_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * Read a local image into a base64 `data:` URL.
 * @throws the file system's error (`ENOENT`, `EACCES`…) when the file cannot be read.
 */
export async function readImageDataUrl(path: string): Promise<string> {
  const bytes = await readFile(path);
  return `data:${imageMimeType(path)};base64,${bytes.toString('base64')}`;
}
