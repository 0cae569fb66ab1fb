// Parasitic-resistance correction schemes on one tile (placeholder; being written).
#pragma once
