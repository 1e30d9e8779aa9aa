/// A host directory or file bind-mounted into a container run.
///
/// Thread rule: an immutable value; any thread may use it.
public struct ContainerMount: Sendable, Equatable {
    /// The absolute host path mounted; it must exist.
    public let source: String
    /// The absolute path inside the container. It must exist in the environment's root file system, unless it lies
    /// under /tmp, /dev or an earlier mount: runc would make a missing one in the (shared, pinned) root file system
    /// on the host, so a run refuses to start instead (the images of `deploy/images` hold Codabench's /app paths).
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
