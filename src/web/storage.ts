// What the client remembers in this browser (localStorage): sign-in settings, and per user its
// account state, conversations, notices and moments. A full or disabled storage only loses memory.

export class Stored<T extends object> {
    constructor(private readonly key: string) {}

    load(): Partial<T> {
        try {
            const text = localStorage.getItem(this.key);
            const value: unknown = text ? JSON.parse(text) : {};
            return value && typeof value === 'object' ? (value as Partial<T>) : {};
        } catch {
            return {};
        }
    }

    save(value: T): void {
        try {
            localStorage.setItem(this.key, JSON.stringify(value));
        } catch {
            // quota exceeded or storage off: the session goes on without remembering
        }
    }
}
