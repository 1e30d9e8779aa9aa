import Foundation
import PumasiShared

/// `pumasi-broker status`: which broker is the active one on a PostgreSQL store, since when, at which endpoints,
/// and which wait as standbys. On an SQLite store, the broker that runs on the data directory, if any.
enum BrokerStatusCLI {
    static let spec = CommandSpec(
        name: "pumasi-broker status", abstract: "Show which broker is active on a store, and its standbys.",
        discussion: """
            Exit 0 when a broker is active, 1 when none is (or the store cannot be read).
            """,
        options: [
            HostCommand.dataDirectoryOption, HostCommand.storeOption, .init("json", help: "Print JSON."),
        ])

    static func main(_ arguments: [String], environment: [String: String]) -> Int32 {
        HostCommand.run(spec, arguments, environment: environment) { a, place in
            guard place.location.isPostgreSQL else { return try sqlite(place.directory, json: a.flag("json")) }
            let status = try place.existingStore().brokerStatus()
            if a.flag("json") {
                print(String(decoding: Wire.encode(status), as: UTF8.self))
            } else if let active = status.active, active.term == 0 {
                print("active   \(active.host): holds the lock, not serving yet")
            } else if let active = status.active {
                print(
                    "active   term \(active.term): \(active.host) pid \(active.pid), since \(WallClock.iso(active.startedAt))"
                )
                print("         router \(active.router), pub \(active.pub)")
            } else {
                print("active   none")
            }
            if !a.flag("json") {
                for standby in status.standbys { print("standby  \(standby)") }
            }
            guard status.active != nil else { throw HostCommand.Failure("no broker is active on \(place.location)") }
        }
    }

    /// An SQLite store has one broker at most: the one whose `broker.json` names a live process.
    private static func sqlite(_ directory: String, json: Bool) throws {
        let file = (directory as NSString).appendingPathComponent("broker.json")
        guard let data = FileManager.default.contents(atPath: file),
            let info = try? JSONDecoder().decode([String: String].self, from: data),
            let pid = info["pid"].flatMap(Int32.init), kill(pid, 0) == 0
        else { throw HostCommand.Failure("no broker is running on \(directory)") }
        if json {
            print(String(decoding: Wire.encode(info), as: UTF8.self))
        } else {
            print("active   pid \(pid) on \(directory)")
            print("         router \(info["router"] ?? "?"), pub \(info["pub"] ?? "?")")
        }
    }
}
