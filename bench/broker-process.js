'use strict';
// The embedded broker in a process of its own for the benchmark, as a deployment would run it
// beside (not inside) the clients being measured. Its BrokerOptions come as JSON in argv[2] (port and
// host are set here). Sends {port} over IPC; exits on 'stop'.

const { EmbeddedBroker } = require('../nodes/lib/broker');

const options = JSON.parse(process.argv[2] || '{}');

EmbeddedBroker.start({ ...options, port: 0, host: '127.0.0.1' }).then(
    (broker) => {
        process.send({ port: broker.port });
        process.on('message', async (message) => {
            if (message === 'stop') {
                await broker.close();
                process.exit(0);
            }
        });
        process.on('disconnect', () => process.exit(0));
    },
    (error) => process.send({ error: error.message }, () => process.exit(1)),
);
