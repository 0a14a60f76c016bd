// Signature login of a cloud "MQ for MQTT" service: the secret key signs the Client ID and never
// travels. User name `Signature|<AccessKey>|<InstanceId>`, password Base64(HmacSHA1(secret, ClientId)).

import { createHmac } from 'crypto';

export interface CloudCredentials {
    accessKey: string;
    secretKey: string;
    instanceId: string;
}

export function signatureLogin(clientId: string, creds: CloudCredentials): { username: string; password: string } {
    return {
        username: `Signature|${creds.accessKey}|${creds.instanceId}`,
        password: createHmac('sha1', creds.secretKey).update(clientId, 'utf8').digest('base64'),
    };
}
