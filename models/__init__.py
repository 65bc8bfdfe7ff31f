"""Networks, losses and training objectives: CUT/FastCUT and the CoopInit stage."""
