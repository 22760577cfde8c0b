package io.skiff.auth;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import javax.crypto.Mac;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.SecretKeySpec;
import javax.security.auth.callback.Callback;
import javax.security.auth.callback.NameCallback;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.security.auth.login.AppConfigurationEntry;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.security.auth.AuthenticateCallbackHandler;
import org.apache.kafka.common.security.plain.PlainAuthenticateCallback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * SASL/PLAIN for tenants' access keys (issue 17), for clients that Kafka 4's SCRAM nonce check
 * locks out (librdkafka before 2.6.1).
 *
 * <p>The broker never sees a secret at rest: the platform writes one line per key to the file
 * named by the JAAS option {@code credentials_file}, and this handler derives the same value
 * from the password the client sent. A line is either
 * {@code v2 <username> <iterations> <base64 salt> <base64 StoredKey>}, the key's SCRAM-SHA-512
 * StoredKey (RFC 5802: SHA-512(HMAC-SHA512(PBKDF2-HMAC-SHA512(password), "Client Key"))) with
 * the salt and iterations of the SCRAM credential the cell keeps for the same key, so the
 * platform salts a secret once for both mechanisms; or, for keys written before that,
 * {@code v1 <username> <iterations> <base64 salt> <base64 PBKDF2-HMAC-SHA512>}. Rotation rewrites the line and
 * revocation removes it; the file is re-read as soon as it changes (checked on every
 * authentication: one stat), so both take effect on the next login, on every broker of the
 * cell (they share the file). The principal is {@code User:<username>}, the same as SCRAM's, so
 * ACLs and quotas apply whichever mechanism authenticated the key; a failed login is delayed by
 * the broker's {@code connection.failed.authentication.delay.ms} like SCRAM's.
 *
 * <p>A successful check is remembered (SHA-256 of the password, for that exact credential line)
 * so that reconnecting clients do not pay the slow hash each time; any change of the line, or of
 * the file, forgets it.
 */
public class SkiffPlainServerCallbackHandler implements AuthenticateCallbackHandler {
    private static final Logger log = LoggerFactory.getLogger(SkiffPlainServerCallbackHandler.class);
    static final String FILE_OPTION = "credentials_file";
    // Used to spend the same time for an unknown user as for a wrong password.
    private static final Credential DECOY =
            new Credential("", 4096, new byte[32], new byte[64], true);

    private Path file;
    private volatile Snapshot snapshot = Snapshot.EMPTY;
    private final Map<String, Remembered> remembered = new ConcurrentHashMap<>();

    @Override
    public void configure(
            Map<String, ?> configs, String saslMechanism, List<AppConfigurationEntry> jaasEntries) {
        if (!"PLAIN".equals(saslMechanism)) {
            throw new KafkaException("SkiffPlainServerCallbackHandler serves PLAIN only, not "
                    + saslMechanism);
        }
        Object option = null;
        for (AppConfigurationEntry entry : jaasEntries) {
            option = entry.getOptions().get(FILE_OPTION);
            if (option != null) {
                break;
            }
        }
        if (option == null || option.toString().isBlank()) {
            throw new KafkaException("The PLAIN listener's JAAS config needs " + FILE_OPTION);
        }
        file = Paths.get(option.toString());
        snapshot = load(file, Snapshot.EMPTY);
    }

    @Override
    public void handle(Callback[] callbacks) throws UnsupportedCallbackException {
        // Kafka's PlainSaslServer sends the username in a NameCallback before the password.
        String username = null;
        for (Callback callback : callbacks) {
            if (callback instanceof NameCallback name) {
                username = name.getDefaultName();
            } else if (callback instanceof PlainAuthenticateCallback plain) {
                plain.authenticated(username != null && verify(username, plain.password()));
            } else {
                throw new UnsupportedCallbackException(callback);
            }
        }
    }

    boolean verify(String username, char[] password) {
        Snapshot current = load(file, snapshot);
        snapshot = current;
        Credential credential = current.credentials.get(username);
        byte[] passwordDigest = sha256(password);
        if (credential != null) {
            Remembered known = remembered.get(username);
            if (known != null && known.credential == credential
                    && MessageDigest.isEqual(known.passwordDigest, passwordDigest)) {
                return true;
            }
        }
        Credential checked = credential != null ? credential : DECOY;
        boolean ok = MessageDigest.isEqual(proof(password, checked), checked.hash)
                && credential != null;
        if (ok) {
            remembered.put(username, new Remembered(credential, passwordDigest));
        } else {
            remembered.remove(username);
        }
        return ok;
    }

    @Override
    public void close() {
        remembered.clear();
    }

    // --- the credentials file -----------------------------------------------------------

    static Snapshot load(Path path, Snapshot previous) {
        BasicFileAttributes attributes;
        try {
            attributes = Files.readAttributes(path, BasicFileAttributes.class);
        } catch (NoSuchFileException missing) {
            return Snapshot.EMPTY;  // no key has PLAIN yet: nobody authenticates
        } catch (IOException e) {
            log.warn("Cannot stat {}: {}; keeping the credentials read before", path, e.toString());
            return previous;
        }
        String version = attributes.lastModifiedTime().toMillis() + "/" + attributes.size() + "/"
                + Objects.toString(attributes.fileKey()) + "/"
                + attributes.lastModifiedTime().toInstant().getNano();
        if (version.equals(previous.version)) {
            return previous;
        }
        try {
            Map<String, Credential> credentials = new HashMap<>();
            for (String line : Files.readAllLines(path, StandardCharsets.UTF_8)) {
                Credential parsed = Credential.parse(line);
                if (parsed != null) {
                    Credential same = previous.credentials.get(parsed.username);
                    // Keep the old object for an unchanged line, so remembered logins survive.
                    credentials.put(parsed.username, parsed.equals(same) ? same : parsed);
                }
            }
            return new Snapshot(version, credentials);
        } catch (IOException | RuntimeException e) {
            log.warn("Cannot read {}: {}; keeping the credentials read before", path, e.toString());
            return previous;
        }
    }

    /** What the line keeps, computed from a password: the StoredKey (v2) or the hash (v1). */
    static byte[] proof(char[] password, Credential credential) {
        byte[] derived = derive(password, credential);
        if (!credential.storedKey) {
            return derived;
        }
        try {
            Mac hmac = Mac.getInstance("HmacSHA512");
            hmac.init(new SecretKeySpec(derived, "HmacSHA512"));
            byte[] clientKey = hmac.doFinal("Client Key".getBytes(StandardCharsets.US_ASCII));
            return MessageDigest.getInstance("SHA-512").digest(clientKey);
        } catch (GeneralSecurityException e) {
            throw new KafkaException("HmacSHA512 or SHA-512 is not available", e);
        }
    }

    static byte[] derive(char[] password, Credential credential) {
        PBEKeySpec spec = new PBEKeySpec(
                password, credential.salt, credential.iterations, credential.hash.length * 8);
        try {
            return SecretKeyFactory.getInstance("PBKDF2WithHmacSHA512")
                    .generateSecret(spec).getEncoded();
        } catch (GeneralSecurityException e) {
            throw new KafkaException("PBKDF2WithHmacSHA512 is not available", e);
        } finally {
            spec.clearPassword();
        }
    }

    private static byte[] sha256(char[] password) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            return digest.digest(new String(password).getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new KafkaException("SHA-256 is not available", e);
        }
    }

    record Snapshot(String version, Map<String, Credential> credentials) {
        static final Snapshot EMPTY = new Snapshot("", Map.of());
    }

    record Remembered(Credential credential, byte[] passwordDigest) {}

    static final class Credential {
        final String username;
        final int iterations;
        final byte[] salt;
        final byte[] hash;
        // v2: `hash` is the SCRAM-SHA-512 StoredKey, derived from a 64-byte SaltedPassword.
        final boolean storedKey;

        Credential(String username, int iterations, byte[] salt, byte[] hash, boolean storedKey) {
            this.username = username;
            this.iterations = iterations;
            this.salt = salt;
            this.hash = hash;
            this.storedKey = storedKey;
        }

        /** One line of the file, or null for a blank line, a comment or a line it cannot use. */
        static Credential parse(String line) {
            String trimmed = line.strip();
            if (trimmed.isEmpty() || trimmed.startsWith("#")) {
                return null;
            }
            String[] fields = trimmed.split(" ");
            boolean storedKey = "v2".equals(fields[0]);
            if (fields.length != 5 || !(storedKey || "v1".equals(fields[0]))) {
                return null;
            }
            int iterations = Integer.parseInt(fields[2]);
            if (iterations < 1000) {
                return null;
            }
            Base64.Decoder decoder = Base64.getDecoder();
            byte[] hash = decoder.decode(fields[4]);
            if (storedKey && hash.length != 64) {
                return null;
            }
            return new Credential(
                    fields[1], iterations, decoder.decode(fields[3]), hash, storedKey);
        }

        @Override
        public boolean equals(Object other) {
            return other instanceof Credential c && c.username.equals(username)
                    && c.iterations == iterations && c.storedKey == storedKey
                    && MessageDigest.isEqual(c.salt, salt)
                    && MessageDigest.isEqual(c.hash, hash);
        }

        @Override
        public int hashCode() {
            return username.hashCode();
        }
    }
}
