// Java client of the matrix: kafka-clients 2.8, 3.9 and 4.3 run this one file (source mode).
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class Matrix {
    public static void main(String[] args) throws Exception {
        String mechanism = System.getenv("MECHANISM");
        String module = mechanism.equals("PLAIN")
                ? "org.apache.kafka.common.security.plain.PlainLoginModule"
                : "org.apache.kafka.common.security.scram.ScramLoginModule";
        Properties common = new Properties();
        common.put("bootstrap.servers", System.getenv("BOOTSTRAP"));
        common.put("security.protocol", "SASL_SSL");
        common.put("sasl.mechanism", mechanism);
        common.put("sasl.jaas.config", module + " required username=\"" + System.getenv("USERNAME")
                + "\" password=\"" + System.getenv("PASSWORD") + "\";");
        common.put("ssl.truststore.type", "PEM");
        common.put("ssl.truststore.location", System.getenv("CA"));
        String topic = System.getenv("TOPIC");
        int count = Integer.parseInt(System.getenv("COUNT"));

        Properties p = new Properties();
        p.putAll(common);
        p.put("acks", "all");
        p.put("enable.idempotence", "false");  // 2.8 would need IDEMPOTENT_WRITE on the cluster
        p.put("max.block.ms", "20000");
        p.put("delivery.timeout.ms", "30000");
        p.put("request.timeout.ms", "20000");
        try (KafkaProducer<String, String> producer =
                new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            for (int i = 0; i < count; i++) {
                producer.send(new ProducerRecord<>(topic, "k" + i, "java-" + i)).get();
            }
        }

        Properties c = new Properties();
        c.putAll(common);
        c.put("group.id", System.getenv("GROUP"));
        c.put("auto.offset.reset", "earliest");
        c.put("enable.auto.commit", "false");
        Set<String> seen = new HashSet<>();
        long deadline = System.currentTimeMillis() + 60_000;
        try (KafkaConsumer<String, String> consumer =
                new KafkaConsumer<>(c, new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of(topic));
            while (seen.size() < count) {
                if (System.currentTimeMillis() > deadline) {
                    throw new IllegalStateException("consumed " + seen.size() + " of " + count);
                }
                for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(500))) {
                    seen.add(record.value());
                }
            }
            consumer.commitSync();
        }
        System.out.println("OK produced=" + count + " consumed=" + seen.size());
    }
}
