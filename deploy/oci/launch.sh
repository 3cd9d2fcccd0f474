#!/usr/bin/env bash
# Launch an Oracle Cloud VM running kalshi-collector (one example of deploy/cloud-init.yaml; any
# cloud that takes cloud-init user data works the same way). Needs the OCI CLI, configured
# (`oci setup config`), and a VCN subnet with outbound internet.
#
#   COMPARTMENT_ID=ocid1.compartment... SUBNET_ID=ocid1.subnet... SSH_KEY=~/.ssh/id_ed25519.pub \
#     deploy/oci/launch.sh [NAME]
#
# Defaults: the Always Free Ampere shape (VM.Standard.A1.Flex, 1 OCPU, 6 GB) with the latest
# Canonical Ubuntu 24.04 image for it, and a 100 GB boot volume for the data folder. Override with
# SHAPE, OCPUS, MEMORY_GB, BOOT_GB, IMAGE_ID, AVAILABILITY_DOMAIN, USER_DATA.
set -euo pipefail

NAME=${1:-kalshi-collector}
: "${COMPARTMENT_ID:?set COMPARTMENT_ID to the compartment OCID}"
: "${SUBNET_ID:?set SUBNET_ID to a subnet OCID with outbound internet}"
SSH_KEY=${SSH_KEY:-$HOME/.ssh/id_ed25519.pub}
SHAPE=${SHAPE:-VM.Standard.A1.Flex}
OCPUS=${OCPUS:-1}
MEMORY_GB=${MEMORY_GB:-6}
BOOT_GB=${BOOT_GB:-100}
USER_DATA=${USER_DATA:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/cloud-init.yaml}

[ -r "$SSH_KEY" ] || { echo "launch.sh: SSH public key $SSH_KEY not found (set SSH_KEY)" >&2; exit 1; }
[ -r "$USER_DATA" ] || { echo "launch.sh: cloud-init file $USER_DATA not found" >&2; exit 1; }
if grep -q 'YOUR_ORG' "$USER_DATA"; then
    echo "launch.sh: set KC_REPO in $USER_DATA to your repository first" >&2
    exit 1
fi

if [ -z "${AVAILABILITY_DOMAIN:-}" ]; then
    AVAILABILITY_DOMAIN=$(oci iam availability-domain list --compartment-id "$COMPARTMENT_ID" \
        --query 'data[0].name' --raw-output)
fi
if [ -z "${IMAGE_ID:-}" ]; then
    IMAGE_ID=$(oci compute image list --compartment-id "$COMPARTMENT_ID" \
        --operating-system "Canonical Ubuntu" --operating-system-version "24.04" --shape "$SHAPE" \
        --sort-by TIMECREATED --sort-order DESC --query 'data[0].id' --raw-output)
fi
echo "launching $NAME: $SHAPE ($OCPUS OCPU, $MEMORY_GB GB) in $AVAILABILITY_DOMAIN, image $IMAGE_ID"

oci compute instance launch \
    --compartment-id "$COMPARTMENT_ID" \
    --availability-domain "$AVAILABILITY_DOMAIN" \
    --display-name "$NAME" \
    --shape "$SHAPE" \
    --shape-config "{\"ocpus\": $OCPUS, \"memoryInGBs\": $MEMORY_GB}" \
    --image-id "$IMAGE_ID" \
    --boot-volume-size-in-gbs "$BOOT_GB" \
    --subnet-id "$SUBNET_ID" \
    --assign-public-ip true \
    --ssh-authorized-keys-file "$SSH_KEY" \
    --user-data-file "$USER_DATA" \
    --wait-for-state RUNNING \
    --query 'data.id' --raw-output
echo "up; cloud-init installs the collector in a few minutes: ssh ubuntu@<public ip> 'cloud-init status --wait'"
