package crowdwiz;

/**
 * A store the game supplies instead of SQLite or PostgreSQL (cwd_store in the header):
 * answer each operation's JSON with its JSON answer; throw when the store cannot answer
 * (the call in progress then fails with store-unavailable). Called from the library's
 * threads, possibly several at once: thread-safe, and never calling the gateway.
 */
@FunctionalInterface
public interface CwdStore {
    String handle(String requestJson) throws Exception;
}
