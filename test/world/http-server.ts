// A tiny loopback HTTP server for set-vars scripts: path → status and body, or a handler.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { listenOnLoopback } from "./net.js";

export type Route = { status: number; body: string } | ((req: IncomingMessage, res: ServerResponse) => void);

export class FileServer {
  readonly routes = new Map<string, Route>();
  readonly hits: string[] = [];
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<FileServer> {
    const server = createServer();
    const port = await listenOnLoopback(server);
    const files = new FileServer(server, port);
    server.on("request", (req, res) => {
      files.hits.push(req.url ?? "");
      const route = files.routes.get(req.url ?? "");
      if (!route) {
        res.writeHead(404).end("404: Not Found");
      } else if (typeof route === "function") {
        route(req, res);
      } else {
        res.writeHead(route.status, { "content-type": "text/plain" }).end(route.body);
      }
    });
    return files;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
