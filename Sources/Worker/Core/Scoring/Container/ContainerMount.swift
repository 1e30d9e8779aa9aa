/// A host directory or file bind-mounted into a container run.
///
/// Thread rule: an immutable value; any thread may use it.
public struct ContainerMount: Sendable, Equatable {
    /// The absolute host path mounted; it must exist.
    public let source: String
    /// The absolute path inside the container. If the image has no such path, runc makes it in the image's root
    /// file system (on the host) before making that root read-only, unless it lies under a tmpfs such as /tmp: an
    /// image meant for containers should hold its mount points (the images of `deploy/images` have /app).
    public let destination: String
    /// Whether the run may only read it.
    public let readOnly: Bool

    /// Creates a mount.
    /// - Parameters:
    ///   - source: an absolute host path.
    ///   - destination: an absolute path in the container, without `..`.
    ///   - readOnly: whether the run may only read it.
    public init(source: String, destination: String, readOnly: Bool) {
        self.source = source
        self.destination = destination
        self.readOnly = readOnly
    }
}
