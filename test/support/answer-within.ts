/**
 * What a `host:port` sends back within `ms` of a request: proves a listener accepts connections and
 * never answers (a web server that is private to its VPC, as seen from outside it).
 */
import { connect } from 'node:net';

export function answerWithin(
  hostPort: string,
  ms: number,
  request = `GET /api/v1/health HTTP/1.1\r\nHost: ${hostPort}\r\n\r\n`,
): Promise<{ connected: boolean; received: string }> {
  const [host, port] = hostPort.split(':');
  return new Promise((resolveAnswer) => {
    const socket = connect(Number(port), host!);
    let connected = false;
    let received = '';
    socket.on('connect', () => {
      connected = true;
      socket.write(request);
    });
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    socket.on('error', () => undefined);
    setTimeout(() => {
      socket.destroy();
      resolveAnswer({ connected, received });
    }, ms);
  });
}
