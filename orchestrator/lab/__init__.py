"""The lab: a real test bed on one machine (NetBox, lab hosts, package mirror)."""
