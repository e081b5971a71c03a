// An HTTP proxy as a self-hosted runner's network has one: clients reach HTTPS hosts through
// CONNECT tunnels. Every host name is mapped to loopback (nothing resolves the test names), and
// each tunnel's target is kept for assertions.
import { createServer, type Server } from "node:http";
import { connect, type Socket } from "node:net";
import { listenOnLoopback } from "./net.js";

export class ConnectProxy {
  /** `host:port` of every CONNECT, in order */
  readonly tunnels: string[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<ConnectProxy> {
    const server = createServer((_req, res) => res.writeHead(405).end("only CONNECT here"));
    const port = await listenOnLoopback(server);
    const proxy = new ConnectProxy(server, port);
    server.on("connect", (req, client: Socket, head: Buffer) => {
      const target = req.url ?? "";
      proxy.tunnels.push(target);
      const targetPort = Number(target.slice(target.lastIndexOf(":") + 1));
      const upstream = connect(targetPort, "127.0.0.1", () => {
        client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      for (const socket of [client, upstream]) {
        proxy.sockets.add(socket);
        socket.on("error", () => undefined);
        socket.on("close", () => {
          proxy.sockets.delete(socket);
          client.destroy();
          upstream.destroy();
        });
      }
    });
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
