/**
 * Text that came from elsewhere (a GPU server's files and git output, a task's log, an HTTP
 * answer) made safe to print on a terminal: one definition for every command that shows it.
 */

/**
 * Control characters (C0, DEL, C1) become U+FFFD; tabs and line breaks become spaces. Escape
 * sequences are thereby broken, so such text cannot clear the screen, move the cursor, recolour
 * what follows or set the window title. Apply it to one line at a time.
 */
export function clean(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this replaces.
  return text.replace(/[\t\n\r]/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f]/g, '\uFFFD');
}
