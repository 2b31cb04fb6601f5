/**
 * Progress on stderr: a line rewritten in place on a TTY; plain lines otherwise (CI logs), where a
 * repeated status (UPDATING, UPDATING, ...) is printed again only once a minute.
 */
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
  const clearLive = () => {
    if (liveShown) stream.write('\r\x1b[2K');
    liveShown = false;
  };
  return {
    print(line) {
      if (!line) return;
      if (line.live && tty) {
        clearLive();
        stream.write(line.text.split('\n')[0]!.slice(0, (stream.columns || 100) - 1));
        liveShown = true;
        return;
      }
      if (line.live) {
        const key = line.text.replace(/\(\d+m?\d*s\)/, '');
        if (key === lastKey && now() - lastPrinted < 60_000) return;
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
