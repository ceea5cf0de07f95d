"""The generator of ball3d's training clips: ball physics, plays, crops, clips."""
