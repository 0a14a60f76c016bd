// The broker's sockets: MQTT over TCP and, optionally, over WebSocket. It owns them, so close() really
// frees its ports (a Node-RED redeploy opens the same ports again at once), tunes each for many small
// packets, and turns away an address that already holds its share of connections before aedes sees it.

import { createServer as createHttpServer, IncomingMessage, Server as HttpServer } from 'http';
import { AddressInfo, createServer as createTcpServer, Server as TcpServer, Socket } from 'net';
import type { Duplex } from 'stream';
import { WebSocketServer } from 'ws';
import { tuneSocket } from '../socketTuning';
import { webSocketStream } from './webSocketStream';

const LISTEN_RETRIES = 10;
const LISTEN_RETRY_MS = 200;

export interface ListenerOptions {
    port: number;
    host: string;
    wsPort?: number;
    wsPath?: string;
    /** Connections one address may hold at once; 0 for no limit. */
    connectionsPerAddress: number;
    /** The largest MQTT packet: a WebSocket frame may carry no more (ws would buffer 100 MiB by default). */
    maxPacketBytes: number;
}

/** Hands an accepted connection to the broker. */
export type ConnectionHandler = (stream: Duplex, req?: IncomingMessage) => void;

export class Listeners {
    private readonly sockets = new Set<Socket>();
    private readonly perAddress = new Map<string, number>();
    private tcp: TcpServer | undefined;
    private http: HttpServer | undefined;
    private wss: WebSocketServer | undefined;

    constructor(
        private readonly options: ListenerOptions,
        private readonly handle: ConnectionHandler,
        private readonly onRefused: (address: string, reason: string) => void,
    ) {}

    get port(): number {
        return (this.tcp?.address() as AddressInfo | null)?.port ?? 0;
    }

    get wsPort(): number | undefined {
        return (this.http?.address() as AddressInfo | null)?.port;
    }

    async listen(): Promise<void> {
        const { host } = this.options;
        const tcp = createTcpServer();
        this.tcp = tcp;
        this.track(tcp, (socket) => this.handle(socket));
        await listenWithRetry(tcp, this.options.port, host);
        if (this.options.wsPort !== undefined) {
            const http = createHttpServer();
            this.http = http;
            this.track(http); // the WebSocket server takes it from here
            const maxPayload = Number.isFinite(this.options.maxPacketBytes) ? this.options.maxPacketBytes + 16 : undefined;
            this.wss = new WebSocketServer({ server: http, path: this.options.wsPath || '/mqtt', maxPayload });
            this.wss.on('connection', (ws, req) => this.handle(webSocketStream(ws), req));
            await listenWithRetry(http, this.options.wsPort, host);
        }
    }

    async close(): Promise<void> {
        const closing: Promise<unknown>[] = [];
        if (this.wss) closing.push(new Promise((resolve) => this.wss?.close(resolve)));
        for (const server of [this.tcp, this.http]) {
            if (server?.listening) closing.push(new Promise((resolve) => server.close(resolve)));
        }
        for (const socket of this.sockets) socket.destroy();
        await Promise.all(closing);
    }

    /** Keeps every socket so close() can end them, counts them per address, and tunes them. */
    private track(server: TcpServer | HttpServer, accept?: (socket: Socket) => void): void {
        server.on('connection', (socket: Socket) => {
            const address = socket.remoteAddress ?? 'unknown';
            const held = this.perAddress.get(address) ?? 0;
            const limit = this.options.connectionsPerAddress;
            if (limit > 0 && held >= limit) {
                this.onRefused(address, `${address} already holds ${held} connections (the limit)`);
                socket.destroy();
                return;
            }
            this.perAddress.set(address, held + 1);
            tuneSocket(socket);
            this.sockets.add(socket);
            socket.once('close', () => {
                this.sockets.delete(socket);
                const left = (this.perAddress.get(address) ?? 1) - 1;
                if (left > 0) this.perAddress.set(address, left);
                else this.perAddress.delete(address);
            });
            accept?.(socket);
        });
    }
}

/** Listens, retrying a few times while a port is still held by a broker that is closing. */
async function listenWithRetry(server: TcpServer | HttpServer, port: number, host: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
        try {
            await new Promise<void>((resolve, reject) => {
                server.once('error', reject);
                server.listen(port, host, () => {
                    server.off('error', reject);
                    resolve();
                });
            });
            return;
        } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= LISTEN_RETRIES) throw error;
            await new Promise((resolve) => setTimeout(resolve, LISTEN_RETRY_MS));
        }
    }
}
