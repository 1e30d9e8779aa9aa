import Foundation
import PumasiShared
import Testing

@testable import PumasiWorker

/// Errors that name their cause, as the `pumasi` command prints them: endpoints checked before use, no connection
/// in the clear unless asked for, and connection failures told apart at once (ClientErrorTests has the client's
/// side of each).
extension CLITests {
    /// Runs `pumasi` with `environment` settings (`NAME=value`) added, through env(1).
    private func pumasi(environment: [String], _ arguments: [String]) throws -> CLIResult {
        let tool = (try #require(CLIProcess.binDirectory) as NSString).appendingPathComponent("pumasi")
        return try CLIProcess(executable: "/usr/bin/env", environment + [tool] + arguments).finish(within: 30)
    }

    @Test func aBareHostAndPortIsRefusedWithASuggestion() throws {
        let cases: [(words: [String], environment: [String], stderr: String)] = [
            (
                ["list", "--broker", "127.0.0.1:5555"], [],
                "Error: --broker: '127.0.0.1:5555' is not an endpoint: did you mean tcp://127.0.0.1:5555?"
            ),
            (
                ["list"], ["PUMASI_BROKER=broker.example.org:5555"],
                "Error: $PUMASI_BROKER: 'broker.example.org:5555' is not an endpoint: did you mean "
                    + "tcp://broker.example.org:5555?"
            ),
            (
                ["evaluate", "--broker", "tcp://a:1,b:1"], [],
                "Error: --broker: 'b:1' is not an endpoint: did you mean tcp://b:1?"
            ),
            (
                ["relay", "--pub", "127.0.0.1:5556"], [],
                "Error: --pub: '127.0.0.1:5556' is not an endpoint: did you mean tcp://127.0.0.1:5556?"
            ),
            (
                ["relay", "--listen", "relay.ipc"], [],
                "Error: --listen: 'relay.ipc' is not an endpoint (tcp://host:port, ipc://path or inproc://name)"
            ),
        ]
        for (words, environment, stderr) in cases {
            let result = try pumasi(environment: environment, words)
            #expect(result.termination == .exit(64), "\(words): \(result)")
            #expect(result.stderr.hasPrefix(stderr + "\n"), "\(words): \(result)")
        }
        let broker = try run("pumasi-broker", ["--router", "0.0.0.0:5555", "--insecure"])
        #expect(broker.termination == .exit(64), "\(broker)")
        #expect(
            broker.stderr.hasPrefix(
                "Error: --router: '0.0.0.0:5555' is not an endpoint: did you mean tcp://0.0.0.0:5555?"),
            "\(broker)")
    }

    /// A key without the broker's key would connect in the clear; `--broker-key none` is how to ask for that.
    @Test func aKeyWithoutTheBrokersKeyIsAnError() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        try CurveKeyFile.write(try CurveKeyPair.generate(), to: dir.file("ada.key"))
        let broker = try CLIBroker(dataDirectory: dir.file("broker"))
        defer { broker.spawned.stopGracefully() }
        let keyOnly = try pumasi("list", "--broker", broker.router, "--key", dir.file("ada.key"))
        #expect(keyOnly.termination == .exit(64), "\(keyOnly)")
        #expect(
            keyOnly.stderr.hasPrefix(
                "Error: --key (\(dir.file("ada.key"))) was given but not the broker's public key: give --broker-key"),
            "\(keyOnly)")
        let fromEnvironment = try pumasi(
            environment: ["PUMASI_KEY=\(dir.file("ada.key"))"], ["list", "--broker", broker.router])
        #expect(fromEnvironment.stderr.hasPrefix("Error: $PUMASI_KEY ("), "\(fromEnvironment)")
        let missing = try pumasi(
            "list", "--broker", broker.router, "--key", dir.file("ada.key"), "--broker-key", dir.file("nowhere.pub"))
        #expect(missing.termination == .exit(1), "\(missing)")
        #expect(
            missing.stderr.hasPrefix("Error: --broker-key: the broker's key file \(dir.file("nowhere.pub")) does not"),
            "\(missing)")
        // Asked for: in the clear, to a broker started with --insecure. And keyless local use, as ever.
        for words in [["--key", dir.file("ada.key"), "--broker-key", "none"], []] {
            let listed = try run("pumasi", ["list", "--broker", broker.router] + words)
            #expect(listed.termination == .exit(0), "\(words): \(listed)")
        }
        let emptied = try pumasi(
            environment: ["PUMASI_KEY=\(dir.file("ada.key"))", "PUMASI_BROKER_KEY="],
            ["list", "--broker", broker.router])
        #expect(emptied.termination == .exit(0), "\(emptied)")
    }

    /// An unregistered key and a broker that is down are told apart, each well within the timeout.
    @Test func connectionFailuresNameTheirCauseAtOnce() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let keyed = try CLIKeyedBroker(in: dir, principals: ["ada": "solver"])
        try CurveKeyFile.write(try CurveKeyPair.generate(), to: dir.file("eve.key"))
        let start = Date()
        let stranger = try run("pumasi", ["list", "--timeout", "20"] + keyed.as("eve"))
        #expect(stranger.termination == .exit(1), "\(stranger)")
        #expect(
            stranger.stderr.hasPrefix(
                "Error: the broker at \(keyed.broker.router) refused your key (not registered, or revoked"),
            "\(stranger)")
        let wrongKey = try run(
            "pumasi",
            [
                "list", "--timeout", "20", "--broker", keyed.broker.router, "--key", dir.file("ada.key"),
                "--broker-key",
                dir.file("eve.key.pub"),
            ])
        #expect(
            wrongKey.stderr.hasPrefix(
                "Error: the CURVE handshake with the broker at \(keyed.broker.router) failed: the broker's key is not"),
            "\(wrongKey)")
        let plain = try run("pumasi", ["list", "--timeout", "20", "--broker", keyed.broker.router])
        #expect(plain.stderr.hasPrefix("Error: the broker at \(keyed.broker.router) expects CURVE"), "\(plain)")
        #expect(try run("pumasi", ["list"] + keyed.as("ada")).termination == .exit(0))
        // An evaluator keeps trying (its key may be registered later), and says why it does not get in.
        let evaluator = try startWorker(
            ["evaluate", "--cache", dir.file("cache")] + keyed.as("eve"),
            ready: "the broker refused this evaluator's key (not registered, or revoked)")
        evaluator.stopGracefully()
        keyed.broker.spawned.stopGracefully()
        // Port 1, where nobody listens (the stopped broker's port could be taken by a test running beside this one).
        let down = try run("pumasi", ["list", "--timeout", "20", "--broker", "tcp://127.0.0.1:1"])
        #expect(down.termination == .exit(1), "\(down)")
        // A read tries again for 3 s (a broker restarting is back in about 1.5), and says so at once.
        let refused = "no broker answers at tcp://127.0.0.1:1 (connection refused): is it running? check --broker"
        #expect(down.stderr == "\(refused); trying again for up to 3 s\nError: \(refused)\n", "\(down)")
        #expect(Date().timeIntervalSince(start) < 20, "each failure came at once, not after the 20 s timeout")
    }
}
