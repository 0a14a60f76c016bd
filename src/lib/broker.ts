// The embedded MQTT broker: aedes over TCP and, optionally, MQTT over WebSocket. It owns its sockets,
// so close() really frees its ports (a Node-RED redeploy opens the same ports again at once).

import { EventEmitter } from 'events';
import { createServer as createHttpServer, Server as HttpServer } from 'http';
import { AddressInfo, createServer as createTcpServer, Server as TcpServer, Socket } from 'net';
import { timingSafeEqual } from 'crypto';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { Aedes, AuthenticateError } from 'aedes' with { 'resolution-mode': 'import' };

export interface BrokerOptions {
    /** TCP port; 0 picks a free one. */
    port: number;
    /** Bind address; loopback unless the user opens it up. */
    host?: string;
    /** MQTT over WebSocket port; none when unset. 0 picks a free one. */
    wsPort?: number;
    wsPath?: string;
    /** When set, every client must log in with this user name and password. */
    username?: string;
    password?: string;
}

export const DEFAULT_HOST = '127.0.0.1';
const LISTEN_RETRIES = 10;
const LISTEN_RETRY_MS = 200;

export declare interface EmbeddedBroker {
    on(event: 'clients', listener: (count: number) => void): this;
    on(event: 'clientError', listener: (clientId: string, error: Error) => void): this;
}

export class EmbeddedBroker extends EventEmitter {
    private readonly sockets = new Set<Socket>();
    private tcp: TcpServer | undefined;
    private http: HttpServer | undefined;
    private wss: WebSocketServer | undefined;

    private constructor(readonly aedes: Aedes, readonly options: BrokerOptions) {
        super();
    }

    static async start(options: BrokerOptions): Promise<EmbeddedBroker> {
        // aedes is ESM only; a dynamic import() loads it from this CommonJS build.
        const { Aedes } = await import('aedes');
        const aedes = await Aedes.createBroker({ authenticate: authenticator(options) });
        const broker = new EmbeddedBroker(aedes, options);
        try {
            await broker.listen();
        } catch (error) {
            await broker.close();
            throw error;
        }
        return broker;
    }

    get port(): number {
        return (this.tcp?.address() as AddressInfo | null)?.port ?? 0;
    }

    get wsPort(): number | undefined {
        return (this.http?.address() as AddressInfo | null)?.port;
    }

    get clientCount(): number {
        return this.aedes.connectedClients;
    }

    async close(): Promise<void> {
        const closing: Promise<unknown>[] = [];
        if (this.wss) closing.push(new Promise((resolve) => this.wss?.close(resolve)));
        for (const server of [this.tcp, this.http]) {
            if (server?.listening) closing.push(new Promise((resolve) => server.close(resolve)));
        }
        for (const socket of this.sockets) socket.destroy();
        closing.push(new Promise<void>((resolve) => this.aedes.close(() => resolve())));
        await Promise.all(closing);
    }

    private async listen(): Promise<void> {
        const host = this.options.host || DEFAULT_HOST;
        const tcp = createTcpServer((socket) => this.aedes.handle(socket));
        this.tcp = tcp;
        this.track(tcp);
        await listenWithRetry(tcp, this.options.port, host);
        if (this.options.wsPort !== undefined) {
            const http = createHttpServer();
            this.http = http;
            this.track(http);
            this.wss = new WebSocketServer({ server: http, path: this.options.wsPath || '/mqtt' });
            this.wss.on('connection', (ws, req) => this.aedes.handle(createWebSocketStream(ws) as never, req as never));
            await listenWithRetry(http, this.options.wsPort, host);
        }
        const report = (): void => {
            this.emit('clients', this.aedes.connectedClients);
        };
        this.aedes.on('clientReady', report);
        this.aedes.on('clientDisconnect', report);
        this.aedes.on('clientError', (client, error) => this.emit('clientError', client?.id ?? '', error));
    }

    /** Keeps every socket so close() can end them, and turns Nagle off: IM is many small packets. */
    private track(server: TcpServer | HttpServer): void {
        server.on('connection', (socket: Socket) => {
            socket.setNoDelay(true);
            this.sockets.add(socket);
            socket.once('close', () => this.sockets.delete(socket));
        });
    }
}

function authenticator(options: BrokerOptions) {
    return (_client: unknown, username: string | undefined, password: Buffer | undefined,
        done: (error: AuthenticateError | null, success: boolean | null) => void): void => {
        if (!options.username && !options.password) {
            done(null, true);
            return;
        }
        const ok = sameSecret(username ?? '', options.username ?? '') && sameSecret(password?.toString('utf8') ?? '', options.password ?? '');
        if (ok) {
            done(null, true);
            return;
        }
        // CONNACK return code 4: bad user name or password.
        done(Object.assign(new Error('Bad user name or password'), { returnCode: 4 }) as AuthenticateError, false);
    };
}

function sameSecret(given: string, expected: string): boolean {
    const a = Buffer.from(given);
    const b = Buffer.from(expected);
    return a.length === b.length && timingSafeEqual(a, b);
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
