// What one client or address may cost the broker. Each limit hit is a refusal (the broker's 'refused'
// event, the ims-broker node's output), and costs only whoever hit it.

export interface BrokerLimits {
    /** Largest MQTT packet after login; a packet declaring more closes the connection before its body is read. */
    maxPacketBytes: number;
    /** Largest packet before login (the CONNECT, with its will). */
    maxConnectBytes: number;
    /** Bytes waiting to be written to one client; past this the client is disconnected (it never stalls others). */
    maxQueuedBytes: number;
    /** Subscriptions one connection may hold. */
    subscriptionsPerClient: number;
    /** Topic filters in one SUBSCRIBE packet; the rest of the packet is refused (SUBACK 0x80). */
    filtersPerSubscribe: number;
    /** Connections one user may hold at once, whatever their Client IDs. */
    connectionsPerUser: number;
    /** Groups one user may be a member of (creating one more is refused). */
    groupsPerUser: number;
    /** Client IDs (devices) one user may have bound. */
    devicesPerUser: number;
    /** Members one virtual-group publish may name or reach. */
    membersPerVirtualGroup: number;
    /** Failed logins of one user name, and from one address, before they back off (doubling waits, at most a minute). */
    failedLoginsPerUser: number;
    failedLoginsPerAddress: number;
    /** Connections one address may hold at once. */
    connectionsPerAddress: number;
    /** A connection that has not sent its CONNECT by then is closed. */
    connectTimeoutMs: number;
    /** QoS 1 messages queued for one persistent session while it is away; more are dropped and refused. */
    queuedPerSession: number;
    /** Of those, messages from one sender, so a flooding sender fills only its own share. */
    queuedPerSender: number;
    /** Messages the history keeps per conversation (the oldest go first); 0 turns history off. */
    historyPerConversation: number;
    /** Days a message stays in history; 0 keeps it until the count bound removes it. */
    historyMaxAgeDays: number;
    /** History requests one user may make per minute; the first one over gets an error answer, the rest none. */
    historyRequestsPerMinute: number;
}

export const DEFAULT_LIMITS: Readonly<BrokerLimits> = Object.freeze({
    maxPacketBytes: 1024 * 1024,
    maxConnectBytes: 64 * 1024,
    maxQueuedBytes: 4 * 1024 * 1024,
    subscriptionsPerClient: 5000,
    filtersPerSubscribe: 100,
    connectionsPerUser: 20,
    groupsPerUser: 1000,
    devicesPerUser: 50,
    membersPerVirtualGroup: 10000,
    failedLoginsPerUser: 10,
    failedLoginsPerAddress: 5,
    connectionsPerAddress: 1000,
    connectTimeoutMs: 10000,
    queuedPerSession: 10000,
    queuedPerSender: 1000,
    historyPerConversation: 1000,
    historyMaxAgeDays: 90,
    historyRequestsPerMinute: 120,
});

/** The defaults with whatever the caller set (a number ≥ 0; 0 means no limit where that makes sense). */
export function resolveLimits(given: Partial<BrokerLimits> | undefined): BrokerLimits {
    const limits: BrokerLimits = { ...DEFAULT_LIMITS };
    for (const key of Object.keys(DEFAULT_LIMITS) as (keyof BrokerLimits)[]) {
        const value = given?.[key];
        if (typeof value === 'number' && Number.isFinite(value) && value >= 0) limits[key] = value;
    }
    return limits;
}

/** 0 reads as "no limit". */
export function orUnlimited(value: number): number {
    return value > 0 ? value : Number.POSITIVE_INFINITY;
}
