/// The bytes of each ``GoldenMessages`` message in protocol version 2 (`Wire.version`), as this build encoded them
/// when the wire got its own schema (`Sources/LotteryWire/Schema/`): the header and blobs in hex, the JSON body as
/// its exact text. A change here is a change of the protocol: it needs a new version (docs/protocol.md, "Versions")
/// and new golden bytes, never an edit to make a test pass.
struct Golden: Sendable {
    var header: String
    var body: String
    var blobs: [String]
}

enum GoldenBytes {
    static let v2: [String: Golden] = [
        "hello": Golden(
            header: "4c545731000201",
            body: #"{"blobs":[],"message":{"build_id":"lth 0.1.0","cores":32,"cpu_kind":"x86_64 / 8c1f","datasets":[{"checksum":"0123456789abcdef","id":"mnist"}],"host":"node-7.cluster","instance_id":"5f3a9c0e","running":[{"iteration":2400,"round":3,"task_id":17,"trial_id":"t1"}],"slots":30,"worker_name":"node-7"}}"#,
            blobs: []),
        "ready": Golden(
            header: "4c545731000202",
            body: #"{"blobs":[],"message":{"credit":3}}"#,
            blobs: []),
        "task": Golden(
            header: "4c545731000203",
            body: #"{"blobs":[],"message":{"dataset":{"checksum":"0123456789abcdef","id":"mnist"},"spec":{"controls":["reinit-random","prune-random"],"controls_seeds":2,"data":{"validation":1000},"dataset":"cifar10","model":{"init":"he-normal","layers":["conv8","pool",20]},"prune":{"criterion":"magnitude_increase","kind_rates":{"conv":0.15,"fc":0.25},"rounds":20,"strategy":"global-magnitude","target_density":0.25},"reinit":"rewind:100","seed":3,"seeds":{"init":11,"order":12,"split":13},"train":{"batch":32,"eval_every":50,"iterations":400,"lr":0.05,"momentum":0.8,"optimizer":"sgd"}},"start_round":0,"task_id":17,"trial_id":"t1"}}"#,
            blobs: []),
        "task-resumed-oneshot": Golden(
            header: "4c545731000203",
            body: #"{"blobs":[{"crc32":1438416925,"length":3,"role":"resume_mask"}],"message":{"dataset":{"checksum":"0123456789abcdef","id":"mnist"},"spec":{"controls":[],"controls_seeds":1,"data":{"validation":5000},"dataset":"mnist","model":{"init":"glorot-normal","layers":[30]},"prune":{"densities":[0.5,0.2],"rates":[0.3,0.1],"rounds":2,"schedule":"oneshot","strategy":"layerwise-magnitude"},"reinit":"signed-constant","seed":0,"seeds":{},"train":{"batch":60,"eval_every":100,"iterations":50000,"lr":0.0012,"momentum":0.9,"optimizer":"adam"}},"start_round":1,"task_id":19,"trial_id":"t2"}}"#,
            blobs: ["010203"]),
        "task-branch": Golden(
            header: "4c545731000203",
            body: #"{"blobs":[{"crc32":1440686964,"length":2,"role":"parent_mask"}],"message":{"dataset":{"checksum":"0123456789abcdef","id":"mnist"},"spec":{"branch":{"index":1,"kind":"reinit-random","parent_round":2,"parent_trial":"t5f8ab52883b8651b"},"controls":[],"controls_seeds":2,"data":{"validation":5000},"dataset":"mnist","model":{"init":"glorot-normal","layers":[30]},"prune":{"rounds":20,"strategy":"layerwise-magnitude"},"reinit":"rewind","seed":0,"seeds":{},"train":{"batch":60,"eval_every":100,"iterations":50000,"lr":0.0012,"momentum":0.9,"optimizer":"adam"}},"start_round":0,"task_id":20,"trial_id":"t3"}}"#,
            blobs: ["0405"]),
        "task-synthetic": Golden(
            header: "4c545731000203",
            body: #"{"blobs":[],"message":{"dataset":{"checksum":"synthetic","id":"mnist"},"spec":{"controls":[],"controls_seeds":1,"data":{"validation":5000},"dataset":"mnist","model":{"init":"glorot-normal","layers":[300,100]},"prune":{"rounds":3,"strategy":"layerwise-magnitude"},"reinit":"rewind","seed":0,"seeds":{},"synthetic":{"round_ms":250},"train":{"batch":60,"eval_every":100,"iterations":50000,"lr":0.0012,"momentum":0.9,"optimizer":"adam"}},"start_round":0,"task_id":21,"trial_id":"t4"}}"#,
            blobs: []),
        "heartbeat": Golden(
            header: "4c545731000204",
            body: #"{"blobs":[],"message":{"progress":[{"iteration":2400,"round":3,"task_id":17,"trial_id":"t1"}]}}"#,
            blobs: []),
        "round-result": Golden(
            header: "4c545731000205",
            body: #"{"blobs":[{"crc32":2788031798,"length":3,"role":"mask"},{"crc32":1743340022,"length":2,"role":"next_mask"}],"message":{"mask_parent":"fedcba9876543210","metrics":{"curve":[{"iteration":0,"test_acc":0.0625,"val_acc":0.125,"val_loss":2.25},{"iteration":300,"test_acc":0.8125,"val_acc":0.875,"val_loss":0.25}],"density":0.64,"early_stop_iteration":300,"kept_counts":[640,81],"layer_densities":[0.64,0.81],"layers":[{"mean_abs_after":0.0625,"mean_abs_at_init":0.03125,"positive_after":0.375,"positive_at_init":0.5}],"round":2,"seconds":1.5,"supermask_signed_constant_test_acc":0.625,"supermask_test_acc":0.5,"test_acc_at_es":0.8125,"test_acc_final":0.75,"train_acc_final":0.9375,"trial_id":"t1","val_acc_at_es":0.875,"val_loss_at_es":0.25},"next_mask_parent":"00000000000000ff","task_id":17}}"#,
            blobs: ["090807", "0605"]),
        "ack": Golden(
            header: "4c545731000206",
            body: #"{"blobs":[],"message":{"round":5,"status":"duplicate","task_id":17,"trial_id":"t1"}}"#,
            blobs: []),
        "trial-done": Golden(
            header: "4c545731000207",
            body: #"{"blobs":[],"message":{"last_round":12,"task_id":17,"trial_id":"t1"}}"#,
            blobs: []),
        "trial-failed": Golden(
            header: "4c545731000208",
            body: #"{"blobs":[],"message":{"error":"loss is NaN","round":2,"task_id":18,"trial_id":"t1"}}"#,
            blobs: []),
        "give-back": Golden(
            header: "4c545731000209",
            body: #"{"blobs":[],"message":{"reason":"SIGTERM","trials":[{"last_round":4,"task_id":17,"trial_id":"t1"},{"task_id":18,"trial_id":"t2"}]}}"#,
            blobs: []),
        "reject": Golden(
            header: "4c54573100020a",
            body: #"{"blobs":[],"message":{"code":"unknown_worker","max_version":2,"message":"say HELLO first","min_version":2}}"#,
            blobs: []),
        "shutdown": Golden(
            header: "4c54573100020b",
            body: #"{"blobs":[],"message":{"mode":"drain","reason":"SIGINT"}}"#,
            blobs: []),
        "data-request": Golden(
            header: "4c54573100020c",
            body: #"{"blobs":[],"message":{"dataset_id":"mnist","length":512,"offset":1024}}"#,
            blobs: []),
        "data-chunk": Golden(
            header: "4c54573100020d",
            body: #"{"blobs":[{"crc32":1438416925,"length":3,"role":"chunk"}],"message":{"checksum":"abcd","dataset_id":"mnist","offset":1024,"total_size":1027}}"#,
            blobs: ["010203"]),
        "cancel": Golden(
            header: "4c54573100020e",
            body: #"{"blobs":[],"message":{"reason":"reassigned","task_id":17,"trial_id":"t1"}}"#,
            blobs: []),
    ]
}
