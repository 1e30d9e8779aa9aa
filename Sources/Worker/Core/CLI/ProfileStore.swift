import Foundation
import PumasiShared

/// The profile file: `$XDG_CONFIG_HOME/pumasi/config.json`, else `~/.config/pumasi/config.json`. JSON, mode 0600,
/// replaced whole (written beside it, then renamed over it), so a reader sees the old file or the new one.
///
/// ```json
/// {"default": "work", "profiles": {"work": {"broker": "tcp://host:5555", "brokerKey": "…", "key": "/home/ada/ada.key"}}}
/// ```
struct ProfileStore: Codable, Equatable, Sendable {
    /// The name of the profile commands use when none is chosen.
    var defaultProfile: String?
    var profiles: [String: Profile] = [:]

    enum CodingKeys: String, CodingKey {
        case defaultProfile = "default"
        case profiles
    }

    init(defaultProfile: String? = nil, profiles: [String: Profile] = [:]) {
        self.defaultProfile = defaultProfile
        self.profiles = profiles
    }

    /// The profile file's path for this environment.
    static func path(_ environment: [String: String]) -> String {
        let base =
            environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((environment["HOME"] ?? NSHomeDirectory()) as NSString).appendingPathComponent(".config")
        return (base as NSString).appendingPathComponent("pumasi/config.json")
    }

    /// Reads the file at `path`; an empty store when there is none.
    static func load(_ path: String) throws(CommandFailure) -> ProfileStore {
        guard FileManager.default.fileExists(atPath: path) else { return ProfileStore() }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CommandFailure("cannot read the profile file \(path)")
        }
        do {
            return try JSONDecoder().decode(ProfileStore.self, from: data)
        } catch {
            throw CommandFailure("the profile file \(path) is not valid: \(error)")
        }
    }

    /// Writes the store to `path` atomically with mode 0600, creating its directory (0700) if needed.
    func save(_ path: String) throws(CommandFailure) {
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw CommandFailure("cannot create \(directory): \(error.localizedDescription)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let bytes: [UInt8]
        do {
            bytes = Array(try encoder.encode(self) + Data("\n".utf8))
        } catch {
            throw CommandFailure("cannot encode the profiles: \(error)")
        }
        let temporary = path + ".\(getpid()).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw CommandFailure("cannot write \(temporary): \(Self.errnoText())") }
        fchmod(descriptor, 0o600)
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == bytes.count, synced, rename(temporary, path) == 0 else {
            let reason = Self.errnoText()
            unlink(temporary)
            throw CommandFailure("cannot write \(path): \(reason)")
        }
    }

    /// The profile a command uses: `--profile`, else `$PUMASI_PROFILE`, else the default one; nil when none is
    /// chosen and there is no default. A chosen profile that does not exist is a usage error.
    static func selected(_ arguments: ParsedArguments, environment: [String: String], usage: String) throws -> Profile?
    {
        let chosen = arguments.value("profile") ?? environment["PUMASI_PROFILE"].flatMap { $0.isEmpty ? nil : $0 }
        let path = path(environment)
        let store = try load(path)
        guard let name = chosen ?? store.defaultProfile else { return nil }
        guard let profile = store.profiles[name] else {
            let source = arguments.value("profile") != nil ? "--profile" : chosen != nil ? "$PUMASI_PROFILE" : "default"
            throw UsageError(
                "no profile '\(name)' (\(source)) in \(path)" + store.known
                    + "; create it with: pumasi login --profile \(name) …",
                usage: usage)
        }
        return profile
    }

    /// `; profiles: a, b` or `: there are no profiles`, for messages.
    var known: String {
        profiles.isEmpty ? ": there are no profiles" : "; profiles: " + profiles.keys.sorted().joined(separator: ", ")
    }

    /// Whether `name` may name a profile: 1 to 64 of a-z, A-Z, 0-9, '.', '_' and '-', not starting with '-'.
    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && !name.hasPrefix("-") && !name.hasPrefix(".")
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}

extension CommandContext {
    static let profileOption = CommandSpec.Option(
        "profile", value: "name",
        help: "The profile to use (pumasi login). Default: $PUMASI_PROFILE or the default one.")
}
