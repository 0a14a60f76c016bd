// A group's member list as the secured ims-broker keeps it: retained on `$IMS/groups/<group>`, readable
// by the group's members only, rewritten at every join and leave (docs/PROTOCOL.md, "Group members").
// Clients learn who is in a group from it, not only from the members they have seen join or speak.
// One codec for the broker that writes it and the clients (nodes, web client) that read it.

export const ROSTER_PREFIX = '$IMS/groups/';
export const ROSTER_FORMAT = 1;

export interface GroupRoster {
    group: string;
    /** User IDs, sorted. */
    members: string[];
}

export function rosterTopic(group: string): string {
    return `${ROSTER_PREFIX}${group}`;
}

/** The group a roster topic names, or undefined for any other topic (or a filter with wildcards). */
export function groupOfRosterTopic(topic: string): string | undefined {
    if (!topic.startsWith(ROSTER_PREFIX)) return undefined;
    const group = topic.slice(ROSTER_PREFIX.length);
    return group && !/[/+#]/.test(group) ? group : undefined;
}

export function encodeRoster(roster: GroupRoster): Buffer {
    return Buffer.from(JSON.stringify({ v: ROSTER_FORMAT, group: roster.group, members: [...roster.members].sort() }));
}

/** The roster in a payload, or undefined for anything else (an empty payload clears a retained roster). */
export function decodeRoster(payload: Uint8Array | string): GroupRoster | undefined {
    let body: unknown;
    try {
        body = JSON.parse(typeof payload === 'string' ? payload : new TextDecoder().decode(payload));
    } catch {
        return undefined;
    }
    if (typeof body !== 'object' || body === null) return undefined;
    const { v, group, members } = body as Record<string, unknown>;
    if (v !== ROSTER_FORMAT || typeof group !== 'string' || !Array.isArray(members)) return undefined;
    if (!members.every((m): m is string => typeof m === 'string')) return undefined;
    return { group, members: [...members].sort() };
}
