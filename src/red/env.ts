// Node-RED fills a setting written as `${NAME}` from the environment when the flow starts, and leaves
// it as it is when NAME is not set. The examples use it for the broker URL, port and password.

const ENV_REFERENCE = /^\$\{(\w+)\}$/;

/** The variable's name when `value` is still an unfilled `${NAME}`, else undefined. */
export function unsetEnvName(value: unknown): string | undefined {
    return typeof value === 'string' ? ENV_REFERENCE.exec(value)?.[1] : undefined;
}
