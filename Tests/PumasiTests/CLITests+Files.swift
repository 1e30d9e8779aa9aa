import Foundation
import PumasiShared
import Testing

@testable import PumasiWorker

extension CLITests {
    /// Files over 1 MiB through the command line: `pumasi post` and `pumasi submit` upload them in chunks with
    /// progress on stderr (plain lines: stderr is no terminal here), a file over the challenge's maximum is refused
    /// before it is read, and `pumasi download` reads a submission's file and a challenge's file back whole.
    @Test func largeFilesArePostedSubmittedAndDownloadedInChunks() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try CLIBroker(dataDirectory: dir.file("broker"), extra: ["--chunk-kb", "256"])
        defer { broker.spawned.stopGracefully() }
        let b = ["--broker", broker.router]
        let (_, data) = try UploadTests.file(dir, "data.bin", size: 1_500_000, seed: 21)
        try dir.write(
            "spec.json",
            """
            {"title": "Large files", "description": "Anything.", "deadline": "+1h",
             "award": {"amount": 10, "currency": "USD"}, "scorer": {"plugin": "size"},
             "rules": {"maxBytes": 3000000}, "files": [{"path": "data.bin", "role": "public"}]}
            """)
        let posted = try run("pumasi", ["post", dir.file("spec.json"), "--json"] + b)
        #expect(posted.termination == .exit(0), "\(posted)")
        #expect(posted.stderr.contains("uploading data.bin: 1.4 MiB of 1.4 MiB (100%)"), "\(posted)")
        let challenge = try decode(ChallengeInfo.self, posted)
        #expect(challenge.files.map(\.size) == [data.count] && challenge.rules?.maxBytes == 3_000_000)

        let (path, solution) = try UploadTests.file(dir, "model.bin", size: 2_000_000, seed: 22)
        let submitted = try run("pumasi", ["submit", challenge.id, path, "--solver", "ada"] + b)
        #expect(submitted.termination == .exit(0), "\(submitted)")
        let submission = try #require(word(after: "Submitted ", in: submitted.stdout))
        #expect(submitted.stdout.contains("  2000000 bytes, sha256 \(SHA256.hex(solution))\n"))
        #expect(
            submitted.stderr.hasSuffix("uploading model.bin: 1.9 MiB of 1.9 MiB (100%) \(rate(submitted.stderr))\n"))

        _ = try UploadTests.file(dir, "huge.bin", size: 3_000_001)
        let refused = try run("pumasi", ["submit", challenge.id, dir.file("huge.bin"), "--solver", "ada"] + b)
        #expect(refused.termination == .exit(1))
        #expect(
            refused.stderr
                == "Error: the file is 3000001 bytes; \(challenge.id) takes submissions of at most 3000000 bytes\n")

        let copy = dir.file("copy.bin")
        let downloaded = try run("pumasi", ["download", submission, "-o", copy] + b)
        #expect(downloaded.termination == .exit(0), "\(downloaded)")
        #expect(downloaded.stdout == "\(copy)  2000000 bytes  sha256 \(SHA256.hex(solution).prefix(12))\n")
        #expect(downloaded.stderr.contains("downloading \(submission): 1.9 MiB of 1.9 MiB (100%)"))
        #expect(FileManager.default.contents(atPath: copy) == solution)

        try FileManager.default.createDirectory(atPath: dir.file("files"), withIntermediateDirectories: true)
        let files = try run("pumasi", ["download", challenge.id, "-o", dir.file("files")] + b)
        #expect(files.termination == .exit(0), "\(files)")
        #expect(FileManager.default.contents(atPath: dir.file("files/data.bin")) == data)
    }

    /// The rate a progress line ends with (it varies from run to run).
    private func rate(_ stderr: String) -> String {
        String(stderr.split(separator: "\n").last?.split(separator: " ").suffix(2).joined(separator: " ") ?? "")
    }
}
