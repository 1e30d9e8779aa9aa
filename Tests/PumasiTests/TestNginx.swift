import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A real nginx (Debian's `nginx` package) serving a directory on a loopback port with the repository's
/// `deploy/site/nginx.conf`, its `listen` and `root` pointed at the test's port and directory. Everything it
/// writes (pid file, logs, temp paths) is in its own prefix directory; it runs in the foreground as a child of
/// the test (`daemon off`), and `stop()` ends it by its pid.
final class TestNginx {
    static let path = ["/usr/sbin/nginx", "/usr/bin/nginx"].first(where: FileManager.default.isExecutableFile(atPath:))
    static let shouldRun = path != nil || HeadlessChromium.isCI
    static let skipReason: Comment =
        "nginx is not installed (apt-get install nginx); with CI set this test fails instead"
    /// The repository's server block.
    static let siteConfig = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("deploy/site/nginx.conf").path

    let port: Int
    let prefix: String
    private let process: CLIProcess

    var base: String { "http://127.0.0.1:\(port)" }

    /// Starts nginx serving `root`, and waits (at most 10 s) until it answers.
    init(root: String, prefix: String) throws {
        let nginx = try #require(Self.path, "CI is set but there is no nginx: apt-get install nginx")
        let server = try String(contentsOfFile: Self.siteConfig, encoding: .utf8)
        try #require(server.contains("    listen 80;\n") && server.contains("    root /srv/pumasi/site;\n"))
        try FileManager.default.createDirectory(atPath: prefix, withIntermediateDirectories: true)
        self.prefix = prefix
        var started: (Int, CLIProcess)?
        // A free port can be taken between the probe and nginx's bind: try again with another.
        for _ in 0..<3 {
            let port = try freePort()
            let site = server.replacingOccurrences(of: "    listen 80;\n", with: "    listen 127.0.0.1:\(port);\n")
                .replacingOccurrences(of: "    root /srv/pumasi/site;\n", with: "    root \(root);\n")
            try Data(site.utf8).write(to: URL(fileURLWithPath: prefix + "/site.conf"))
            // As root, workers would switch to `nobody`, who cannot read a private temporary directory.
            let user = getuid() == 0 ? "user root;\n" : ""
            let main = """
                \(user)daemon off;
                worker_processes 1;
                pid \(prefix)/nginx.pid;
                error_log \(prefix)/error.log warn;
                events { worker_connections 64; }
                http {
                    include /etc/nginx/mime.types;
                    default_type application/octet-stream;
                    access_log \(prefix)/access.log;
                    client_body_temp_path \(prefix)/body;
                    proxy_temp_path \(prefix)/proxy;
                    fastcgi_temp_path \(prefix)/fastcgi;
                    uwsgi_temp_path \(prefix)/uwsgi;
                    scgi_temp_path \(prefix)/scgi;
                    include \(prefix)/site.conf;
                }

                """
            try Data(main.utf8).write(to: URL(fileURLWithPath: prefix + "/nginx.conf"))
            let process = try CLIProcess(
                executable: nginx, ["-p", prefix, "-c", prefix + "/nginx.conf", "-e", prefix + "/error.log"])
            let answering = eventually(seconds: 10) {
                !process.process.isRunning || Self.get("http://127.0.0.1:\(port)/", seconds: 1) != nil
            }
            if answering && process.process.isRunning {
                started = (port, process)
                break
            }
            _ = process.terminate(seconds: 5)
        }
        let (port, process) = try #require(
            started,
            "nginx did not start: \((try? String(contentsOfFile: prefix + "/error.log", encoding: .utf8)) ?? "")")
        self.port = port
        self.process = process
    }

    deinit { stop() }

    /// Stops nginx by its pid (SIGTERM: a fast shutdown), and expects it gone.
    func stop() {
        guard process.process.isRunning else { return }
        let result = process.terminate(seconds: 10)
        #expect(!process.process.isRunning, "nginx did not stop: \(result)")
    }

    /// A response: its status, headers (names lowercased) and body.
    struct Response {
        var status: Int
        var headers: [String: String]
        var body: Data
    }

    /// GETs `url`, waiting at most `seconds`; nil when nothing answered.
    static func get(_ url: String, seconds: Double = 10) -> Response? {
        guard let target = URL(string: url) else { return nil }
        let configuration = URLSessionConfiguration.ephemeral
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.timeoutIntervalForRequest = seconds
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }
        let done = DispatchSemaphore(value: 0)
        let box = ResponseBox()
        session.dataTask(with: target) { data, response, _ in
            if let http = response as? HTTPURLResponse {
                var headers: [String: String] = [:]
                for (key, value) in http.allHeaderFields {
                    headers["\(key)".lowercased()] = "\(value)"
                }
                box.set(Response(status: http.statusCode, headers: headers, body: data ?? Data()))
            }
            done.signal()
        }.resume()
        guard done.wait(timeout: .now() + seconds + 1) == .success else { return nil }
        return box.get()
    }

    private final class ResponseBox: @unchecked Sendable {
        // @unchecked Sendable: `value` is only touched under `lock`.
        private let lock = NSLock()
        private var value: Response?
        func set(_ response: Response) { lock.withLock { value = response } }
        func get() -> Response? { lock.withLock { value } }
    }
}
