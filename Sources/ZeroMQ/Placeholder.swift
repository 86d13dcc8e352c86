// ZeroMQ: placeholder until its issue lands.
enum ZeroMQPlaceholder {}
