/**
 * Progress on stderr during network waits: on a TTY a line rewritten in place behind a spinner
 * that turns with each update; otherwise (CI logs) plain lines, where a repeated status (UPDATING,
 * UPDATING, ...) is printed again every REPEAT_MS, so a log shows the wait is alive without
 * flooding.
 */
export const REPEAT_MS = 10_000;
export const SPINNER_FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'] as const;

export interface ProgressLine {
  text: string;
  /** A status a TTY may overwrite in place. */
  live?: boolean;
}

export interface ProgressPrinter {
  print(line: ProgressLine | undefined): void;
  /** Clears a live line before other output. */
  done(): void;
}

export function progressPrinter(stream: NodeJS.WriteStream = process.stderr, now: () => number = Date.now): ProgressPrinter {
  const tty = Boolean(stream.isTTY);
  let liveShown = false;
  let lastKey = '';
  let lastPrinted = 0;
  let frame = 0;
  const clearLive = () => {
    if (liveShown) stream.write('\r\x1b[2K');
    liveShown = false;
  };
  return {
    print(line) {
      if (!line) return;
      if (line.live && tty) {
        clearLive();
        const spinner = SPINNER_FRAMES[frame % SPINNER_FRAMES.length]!;
        frame += 1;
        stream.write(`${spinner} ${line.text.split('\n')[0]!}`.slice(0, (stream.columns || 100) - 1));
        liveShown = true;
        return;
      }
      if (line.live) {
        const key = line.text.replace(/\(\d+m?\d*s\)/, '');
        if (key === lastKey && now() - lastPrinted < REPEAT_MS) return;
        lastKey = key;
        lastPrinted = now();
      } else {
        lastKey = '';
      }
      clearLive();
      stream.write(`${line.text}\n`);
    },
    done: clearLive,
  };
}
