extension WireMessage {
    /// DATA_REQUEST, worker → coordinator: send `length` bytes of dataset `datasetID` from `offset`.
    ///
    /// Credit-based: a worker has at most one request outstanding and asks for the next range only after the
    /// previous DATA_CHUNK arrived, so a coordinator never buffers more than one chunk per worker.
    public struct DataRequest: Codable, Sendable, Hashable {
        public var datasetID: String
        public var offset: Int
        /// 1…``Wire/maxChunkBytes``; the chunk is shorter at the end of the dataset.
        public var length: Int

        public init(datasetID: String, offset: Int, length: Int = Wire.maxChunkBytes) {
            self.datasetID = datasetID
            self.offset = offset
            self.length = length
        }

        enum CodingKeys: String, CodingKey {
            case datasetID = "dataset_id"
            case offset, length
        }
    }

    /// DATA_CHUNK, coordinator → worker: bytes `offset ..< offset + bytes.count` of a dataset.
    ///
    /// The dataset is one byte stream (the coordinator's archive of the dataset files); the worker writes chunks
    /// to a temporary file and accepts it when the SHA-256 of all `totalSize` bytes equals `checksum`.
    public struct DataChunk: Codable, Sendable, Hashable {
        public var datasetID: String
        public var offset: Int
        /// Size of the whole dataset in bytes.
        public var totalSize: Int
        /// Lower-case hex SHA-256 of the whole dataset (the same in every chunk).
        public var checksum: String
        /// Blob `chunk`: the bytes, at most ``Wire/maxChunkBytes``.
        public var bytes: [UInt8]

        public init(datasetID: String, offset: Int, totalSize: Int, checksum: String, bytes: [UInt8]) {
            self.datasetID = datasetID
            self.offset = offset
            self.totalSize = totalSize
            self.checksum = checksum
            self.bytes = bytes
        }

        enum CodingKeys: String, CodingKey {
            case datasetID = "dataset_id"
            case offset
            case totalSize = "total_size"
            case checksum
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            datasetID = try container.decode(String.self, forKey: .datasetID)
            offset = try container.decode(Int.self, forKey: .offset)
            totalSize = try container.decode(Int.self, forKey: .totalSize)
            checksum = try container.decode(String.self, forKey: .checksum)
            bytes = []
        }
    }
}

extension WireMessage.DataRequest: WireBody {
    static var type: MessageType { .dataRequest }

    func validate() throws(WireError) {
        try Check.nonEmpty(datasetID, "message.dataset_id")
        try Check.nonNegative(offset, "message.offset")
        guard length >= 1, length <= Wire.maxChunkBytes else {
            throw WireError(
                .outOfRange(field: "message.length", detail: "is \(length), must be 1…\(Wire.maxChunkBytes)"))
        }
    }
}

extension WireMessage.DataChunk: WireBody {
    static var type: MessageType { .dataChunk }
    static var blobRoles: [BlobRole] { [.chunk] }
    static var requiredRoles: [BlobRole] { [.chunk] }

    func blob(_ role: BlobRole) -> [UInt8]? { role == .chunk ? bytes : nil }

    mutating func attach(_ role: BlobRole, _ bytes: [UInt8]) {
        if role == .chunk { self.bytes = bytes }
    }

    func validate() throws(WireError) {
        try Check.nonEmpty(datasetID, "message.dataset_id")
        try Check.nonEmpty(checksum, "message.checksum")
        try Check.nonNegative(offset, "message.offset")
        try Check.nonNegative(totalSize, "message.total_size")
        // offset + bytes.count <= totalSize, written so that no sum can overflow.
        guard offset <= totalSize, bytes.count <= totalSize - offset else {
            throw WireError(
                .outOfRange(
                    field: "message.offset",
                    detail: "\(offset) plus \(bytes.count) chunk bytes runs past total_size \(totalSize)"))
        }
    }
}
