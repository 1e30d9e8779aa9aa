import Foundation
import PumasiShared
import Testing

@testable import PumasiWorker

extension SecurityTests {
    /// Over CURVE: the evaluator that holds a large submission's lease fetches it, and nobody else may read it but
    /// its solver, its challenge's seeker and admins; an upload is its uploader's alone.
    @Test func aLargeSubmissionIsReadOnlyByItsLeaseHolderSolverAndSeeker() throws {
        let setup = try SecureSetup()
        defer { setup.stop() }
        let plugin = try setup.dir.write(
            "size", "#!/bin/sh\necho \"{\\\"score\\\": $(wc -c < \"$1\")}\"\n", executable: true)
        let evaluator = try setup.evaluator(plugins: ["size": plugin])
        defer { evaluator.shutdown() }
        let acme = try setup.client("acme")
        let (spec, files) = sampleSpec(scorer: ScorerSpec(plugin: "size"))
        let challenge = try post(acme, spec, files)
        let (path, data) = try UploadTests.file(setup.dir, "big.bin", size: 1_500_000, seed: 41)
        let ada = try setup.client("ada")
        let uploader = try Uploader(
            client: ada, path: path, request: SubmitRequest(challenge: challenge.id, solver: "ada", filename: "big.bin")
        )
        let receipt = try uploader.run()
        let info = try settled(ada, receipt.submission)
        #expect(info.state == .scored && info.score == Double(data.count))

        func read(_ name: String) -> ProtocolError? {
            refusal {
                _ = try setup.client(name).download(Service.submissionFile, to: setup.dir.file("copy-\(name)")) {
                    SubmissionFileRequest(submission: receipt.submission, offset: $0)
                }
            }
        }
        for name in ["bob", "globex", "eve-eval"] {
            #expect(read(name)?.message == "no submission \(receipt.submission)", "\(name)")
        }
        #expect(read("judy")?.code == .forbidden)
        for name in ["ada", "acme", "root"] {
            _ = try setup.client(name).download(Service.submissionFile, to: setup.dir.file("copy-\(name)")) {
                SubmissionFileRequest(submission: receipt.submission, offset: $0)
            }
            #expect(FileManager.default.contents(atPath: setup.dir.file("copy-\(name)")) == data, "\(name)")
        }

        // An upload is its uploader's: another solver neither adds to it nor commits it.
        let other = Data(repeating: 9, count: 10_000)
        let begun = try ada.call(
            Service.uploadBegin,
            UploadBeginRequest(challenge: challenge.id, sha256: SHA256.hex(other), size: other.count, filename: "x"),
            as: UploadInfo.self
        ).0
        let bob = try setup.client("bob")
        #expect(
            refusal {
                _ = try bob.call(
                    Service.uploadChunk, UploadChunkRequest(upload: begun.upload, offset: 0), files: [other],
                    as: UploadInfo.self)
            }?.code == .notFound)
        var commit = SubmitRequest(challenge: challenge.id, solver: "bob", filename: "x")
        commit.upload = begun.upload
        #expect(refusal { _ = try bob.call(Service.submit, commit, as: Receipt.self) }?.code == .notFound)
        // A seeker uploads a challenge's files, not submissions; a solver the other way round.
        let asSubmission = UploadBeginRequest(
            challenge: challenge.id, sha256: SHA256.hex(other), size: other.count, filename: "x")
        #expect(
            refusal { _ = try acme.call(Service.uploadBegin, asSubmission, as: UploadInfo.self) }?.code == .forbidden)
        var asFile = asSubmission
        asFile.purpose = UploadBeginRequest.file
        #expect(refusal { _ = try ada.call(Service.uploadBegin, asFile, as: UploadInfo.self) }?.code == .forbidden)
    }
}
