import Foundation
import PumasiShared

/// A named set of connection settings kept by `pumasi login` in the profile file (`ProfileStore`), so that commands
/// need neither flags nor `$PUMASI_*` variables.
///
/// Rules (checked by `validate(usage:)`, which `pumasi login` and `pumasi config set` call before saving):
/// - `broker` is one endpoint or a comma-separated list, each `tcp://host:port` or `ipc://path`.
/// - A profile either talks CURVE, with the broker's public key (`brokerKey`, Z85 text) and the path of the user's
///   secret key file (`key`), or says `insecure`: no CURVE, on purpose, which only a broker or relay on this machine
///   accepts. Never both, never neither.
/// - `solver` names the user to a broker without CURVE (over CURVE the broker names them after their key).
struct Profile: Codable, Equatable, Sendable {
    var broker: String
    /// The broker's CURVE public key, as Z85 text (copied in, so that the profile does not depend on a file).
    var brokerKey: String?
    /// The absolute path of the user's secret key file.
    var key: String?
    /// The user's name for brokers without CURVE.
    var solver: String?
    /// The broker's PUB endpoint(s), for `pumasi relay`.
    var pub: String?
    /// No CURVE, on purpose: a relay or a keyless broker on this machine.
    var insecure: Bool?

    /// Checks the rules above and reads the key file.
    /// - Throws: `UsageError` for a malformed endpoint or a wrong mix of options; `CommandFailure` for a key file
    ///   that cannot be read or is not a secret key file.
    func validate(usage: String) throws {
        if let problem = Self.endpointProblem(broker, option: "--broker") { throw UsageError(problem, usage: usage) }
        if let pub, let problem = Self.endpointProblem(pub, option: "--pub") { throw UsageError(problem, usage: usage) }
        if insecure == true {
            guard brokerKey == nil, key == nil else {
                throw UsageError("--insecure (no CURVE) excludes --broker-key and --key", usage: usage)
            }
            guard Endpoint.list(broker).allSatisfy(Endpoint.isLocal) else {
                throw UsageError(
                    "--insecure is only for a broker or relay on this machine (tcp://127.0.0.1:…, ipc://…); "
                        + "\(broker) needs --broker-key and --key", usage: usage)
            }
            return
        }
        guard let brokerKey, let key else {
            throw UsageError(
                "give the broker's public key (--broker-key) and your secret key file (--key), "
                    + "or --insecure for a broker or relay on this machine without CURVE", usage: usage)
        }
        guard Self.isZ85(brokerKey) else { throw CommandFailure("the broker key is not a 40-character Z85 key") }
        let pair: CurveKeyPair
        do {
            pair = try CurveKeyFile.readPair(key)
        } catch {
            throw CommandFailure("your key (--key): \(error)")
        }
        guard Self.isZ85(pair.publicKey), Self.isZ85(pair.secretKey) else {
            throw CommandFailure("\(key) does not hold valid Z85 keys")
        }
    }

    /// Why `text` is not an endpoint list that a client can connect to; nil when it is one.
    static func endpointProblem(_ text: String, option: String) -> String? {
        let endpoints = Endpoint.list(text)
        guard !endpoints.isEmpty else { return "\(option) is empty: give an endpoint such as tcp://host:5555" }
        for endpoint in endpoints {
            if endpoint.hasPrefix("ipc://"), endpoint.count > "ipc://".count { continue }
            let address = endpoint.dropFirst("tcp://".count)
            guard endpoint.hasPrefix("tcp://"), let colon = address.lastIndex(of: ":"),
                let port = Int(address[address.index(after: colon)...]), (1...65535).contains(port),
                !address[..<colon].isEmpty, !address[..<colon].contains(where: { "*/".contains($0) })
            else {
                return "\(option): '\(endpoint)' is not an endpoint such as tcp://host:5555 or ipc:///path"
            }
        }
        return nil
    }

    /// Whether `text` is 40 characters of the Z85 alphabet (a 32-byte CURVE key).
    static func isZ85(_ text: String) -> Bool {
        let alphabet = Set(".-:+=^!/*?&<>()[]{}@%$#0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        return text.count == 40 && text.allSatisfy(alphabet.contains)
    }

    /// How the profile authenticates, for people: `CURVE, key /home/ada/ada.key` or `none (insecure)`.
    var authentication: String {
        if insecure == true { return "none (insecure, on purpose)" }
        return "CURVE, key \(key ?? "-")"
    }
}
