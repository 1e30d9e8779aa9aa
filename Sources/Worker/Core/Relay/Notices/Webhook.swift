import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Posts JSON to a URL with Foundation's URLSession: each try has a time limit, and a try that fails (no
/// connection, a timeout, a 5xx or 429 answer) is repeated after a pause that doubles, up to `attempts` tries.
/// Any other answer outside 2xx is final.
///
/// Thread rule: `post` blocks its caller until done; call it off the relay's loop (the notifier's thread).
struct Webhook {
    var url: URL
    var timeoutSeconds: Double
    var attempts: Int
    var retryDelaySeconds: Double

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    func post(_ body: Data) throws {
        var delay = retryDelaySeconds
        var last = Failure(description: "not tried")
        for attempt in 1...max(1, attempts) {
            if attempt > 1 {
                Thread.sleep(forTimeInterval: delay)
                delay *= 2
            }
            switch once(body) {
            case .success:
                return
            case .failure(let failure, let retry):
                last = Failure(description: "\(failure) (try \(attempt) of \(max(1, attempts)))")
                if !retry { throw last }
            }
        }
        throw last
    }

    private enum Outcome {
        case success
        case failure(String, retry: Bool)
    }

    private final class Answer: @unchecked Sendable {
        // @unchecked Sendable: written once by URLSession's completion handler before `done` is signalled, read
        // only after the wait.
        var outcome = Outcome.failure("no answer", retry: true)
        let done = DispatchSemaphore(value: 0)
    }

    private func once(_ body: Data) -> Outcome {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeoutSeconds
        configuration.timeoutIntervalForResource = timeoutSeconds
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }
        var request = URLRequest(url: url, timeoutInterval: timeoutSeconds)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("pumasi-relay", forHTTPHeaderField: "User-Agent")
        request.httpBody = body
        let answer = Answer()
        let task = session.dataTask(with: request) { _, response, error in
            if let error {
                answer.outcome = .failure(error.localizedDescription, retry: true)
            } else if let http = response as? HTTPURLResponse {
                let status = http.statusCode
                answer.outcome =
                    (200..<300).contains(status)
                    ? .success : .failure("HTTP \(status)", retry: status >= 500 || status == 429)
            }
            answer.done.signal()
        }
        task.resume()
        // URLSession enforces the limit; this wait is a backstop a little beyond it.
        if answer.done.wait(timeout: .now() + timeoutSeconds + 2) == .timedOut {
            task.cancel()
            return .failure("no answer within \(timeoutSeconds) s", retry: true)
        }
        return answer.outcome
    }
}
