/** The rooms of the code and the imports between them, as a Mermaid flowchart (see rooms-diagram.mjs). */
export function roomsDiagram(): Promise<string>;
/** Fill the `<!-- rooms -->…<!-- /rooms -->` block of a Markdown text. */
export function roomsBlock(text: string): Promise<string>;
