// MaskCodec: placeholder until its issue lands.
enum MaskCodecPlaceholder {}
