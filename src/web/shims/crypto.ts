// The part of Node's crypto that src/lib uses, for the browser: message IDs need random bytes (Web
// Crypto has them); the cloud MQ signature login is for servers and is refused here.

export function randomBytes(size: number): Buffer {
    const bytes = Buffer.alloc(size);
    globalThis.crypto.getRandomValues(bytes);
    return bytes;
}

export function createHmac(): never {
    throw new Error('The cloud MQ signature login is not available in the web client');
}
