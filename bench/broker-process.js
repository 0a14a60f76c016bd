'use strict';
// The embedded broker in a process of its own for the benchmark, as a deployment would run it
// beside (not inside) the clients being measured. Sends {port} over IPC; exits on 'stop'.

const { EmbeddedBroker } = require('../nodes/lib/broker');

EmbeddedBroker.start({ port: 0 }).then((broker) => {
    process.send({ port: broker.port });
    process.on('message', async (message) => {
        if (message === 'stop') {
            await broker.close();
            process.exit(0);
        }
    });
    process.on('disconnect', () => process.exit(0));
});
