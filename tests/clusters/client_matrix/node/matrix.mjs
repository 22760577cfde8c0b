// Node client of the matrix: kafkajs (pure JavaScript).
import fs from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(process.env.KAFKAJS_DIR + "/");
const { Kafka, logLevel } = require("kafkajs");

const env = process.env;
const count = Number(env.COUNT);
const kafka = new Kafka({
  clientId: "skiff-matrix",
  brokers: env.BOOTSTRAP.split(","),
  ssl: { ca: [fs.readFileSync(env.CA, "utf-8")] },
  sasl: { mechanism: env.MECHANISM.toLowerCase(), username: env.USERNAME, password: env.PASSWORD },
  logLevel: logLevel.NOTHING,
  retry: { retries: 2 },
  requestTimeout: 20000,
});

const producer = kafka.producer();
await producer.connect();
await producer.send({
  topic: env.TOPIC,
  acks: -1,
  messages: Array.from({ length: count }, (_, i) => ({ value: `js-${i}` })),
});
await producer.disconnect();

const consumer = kafka.consumer({ groupId: env.GROUP });
await consumer.connect();
await consumer.subscribe({ topic: env.TOPIC, fromBeginning: true });
const seen = new Set();
const done = new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`consumed ${seen.size} of ${count}`)), 60000);
  consumer.run({
    eachMessage: async ({ message }) => {
      seen.add(message.value.toString());
      if (seen.size >= count) {
        clearTimeout(timer);
        resolve();
      }
    },
  }).catch(reject);
  consumer.on(consumer.events.CRASH, (event) => reject(event.payload.error));
});
try {
  await done;
} finally {
  await consumer.disconnect();
}
console.log(`OK produced=${count} consumed=${seen.size}`);
